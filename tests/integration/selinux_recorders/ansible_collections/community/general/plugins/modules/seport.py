# Test recorder (see ../../../../../README.md): the argument spec of community.general.seport; records, changes nothing.
import json
import os

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        ignore_selinux_state=dict(type="bool", default=False),
        ports=dict(type="list", elements="str", required=True),
        proto=dict(type="str", required=True, choices=["tcp", "udp", "dccp", "sctp"]),
        setype=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["absent", "present"]),
        reload=dict(type="bool", default=True),
        local=dict(type="bool", default=False),
    ), supports_check_mode=True)
    with open(os.environ["SELINUX_RECORD"], "a") as handle:
        handle.write(json.dumps({"module": "seport", "params": module.params, "check": module.check_mode}) + "\n")
    module.exit_json(changed=True)


if __name__ == "__main__":
    main()
