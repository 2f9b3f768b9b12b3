# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""molecule/redhat_layout only: the container is Debian 12 with /etc/httpd laid out as RHEL 9; this module makes the
host's facts say RHEL 9 so the role loads its RedHat vars. SELinux is reported disabled, as it is in the container."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rhel9_facts
short_description: Report the molecule container as a RHEL 9 host (test scenario redhat_layout only)
description: Sets os_family RedHat, distribution RedHat 9 and SELinux disabled in the host's facts.
options: {}
author: revproxy.tls contributors (@revproxy)
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    module.exit_json(changed=False, ansible_facts={
        "os_family": "RedHat", "distribution": "RedHat", "distribution_major_version": "9",
        "distribution_version": "9.4", "selinux": {"status": "disabled"},
    })


if __name__ == "__main__":
    main()
