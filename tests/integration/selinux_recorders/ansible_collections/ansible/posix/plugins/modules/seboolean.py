# Test recorder (see ../../../../../README.md): the argument spec of ansible.posix.seboolean; records, changes nothing.
import json
import os

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        ignore_selinux_state=dict(type="bool", default=False),
        name=dict(type="str", required=True),
        persistent=dict(type="bool", default=False),
        state=dict(type="bool", required=True),
    ), supports_check_mode=True)
    with open(os.environ["SELINUX_RECORD"], "a") as handle:
        handle.write(json.dumps({"module": "seboolean", "params": module.params, "check": module.check_mode}) + "\n")
    module.exit_json(changed=True)


if __name__ == "__main__":
    main()
