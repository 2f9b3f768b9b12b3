"""awx/job_templates.yml against the playbooks' argument specs (playbooks/<name>.meta.yml).

Every survey variable must exist in the spec of the playbook the template runs, with a compatible type (AWX sends
every answer as a string or number; the spec coerces it), choices the spec accepts and the same default; required
spec options must be required questions; and the survey's default answers, as AWX sends them, must pass the spec.
"""
import os

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

with open(os.path.join(ROOT, "awx", "job_templates.yml")) as _handle:
    TEMPLATES = yaml.safe_load(_handle)["revproxy_awx_job_templates"]

SURVEY_TYPES = {
    "text": ("str", "path"),
    "textarea": ("str",),
    "password": ("str",),
    "integer": ("int",),
    "float": ("float",),
    "multiplechoice": ("str", "bool"),
    "multiselect": ("list",),
}


def _spec(template):
    name = os.path.basename(template["playbook"])[:-len(".yml")]
    with open(os.path.join(ROOT, "playbooks", "%s.meta.yml" % name)) as handle:
        meta = yaml.safe_load(handle)
    return meta["argument_specs"][template["argspec"]]["options"]


def _answer(question, value):
    """What AWX puts in extra_vars for an answer: numbers for integer/float questions, strings otherwise."""
    if question["type"] in ("integer", "float"):
        return value
    return str(value)


def _questions():
    for template in TEMPLATES:
        for question in template["survey_spec"]["spec"]:
            yield pytest.param(template, question, id="%s:%s" % (template["argspec"], question["variable"]))


def test_one_template_per_playbook():
    assert sorted(t["argspec"] for t in TEMPLATES) == ["audit", "check", "diagnose", "drain", "site"]
    for template in TEMPLATES:
        assert template["playbook"] == "playbooks/%s.yml" % template["argspec"]
        assert os.path.exists(os.path.join(ROOT, template["playbook"]))
        names = [q["variable"] for q in template["survey_spec"]["spec"]]
        assert len(names) == len(set(names)), names


@pytest.mark.parametrize("template, question", list(_questions()))
def test_question_matches_the_spec(template, question):
    spec = _spec(template)
    var = question["variable"]
    assert var in spec, "%s: survey variable %s is not in the playbook's argument spec" % (template["name"], var)
    option = spec[var]
    assert option["type"] in SURVEY_TYPES[question["type"]], (var, question["type"], option["type"])
    if question["type"] == "multiplechoice":
        allowed = option.get("choices") or (["true", "false"] if option["type"] == "bool" else None)
        assert allowed is not None, "%s: a multiple-choice question needs choices or a bool in the spec" % var
        assert set(question["choices"]) <= set(str(c) for c in allowed), (var, question["choices"], allowed)
    if option.get("required"):
        assert question["required"], "%s is required by the spec" % var
    if "default" in option:
        want = option["default"]
        got = question.get("default")
        if option["type"] == "bool":
            assert str(got).lower() == str(want).lower(), (var, got, want)
        else:
            assert got == want, (var, got, want)
    if question["type"] in ("integer", "float") and "default" in question:
        assert question["min"] <= question["default"] <= question["max"]


@pytest.mark.parametrize("template", TEMPLATES, ids=[t["argspec"] for t in TEMPLATES])
def test_default_answers_pass_the_spec(template):
    spec = _spec(template)
    answers = dict((q["variable"], _answer(q, q["default"])) for q in template["survey_spec"]["spec"] if "default" in q)
    result = ArgumentSpecValidator(spec).validate(answers, validate_role_argument_spec=True)
    assert not result.error_messages, result.error_messages


@pytest.mark.parametrize("template", TEMPLATES, ids=[t["argspec"] for t in TEMPLATES])
def test_every_spec_option_is_asked(template):
    asked = set(q["variable"] for q in template["survey_spec"]["spec"])
    assert set(_spec(template)) == asked


# The operator's policy (apache_proxy_allow_raw_directives, apache_proxy_served_roots) and the sites themselves are
# never survey answers: a survey user must not be able to widen what a site may make Apache do.
OPERATOR_ONLY = ("apache_proxy_allow_raw_directives", "apache_proxy_served_roots", "apache_proxy_sites",
                 "allow_raw_directives", "served_roots", "extra_directives", "revproxy_metrics_dirs")


@pytest.mark.parametrize("template", TEMPLATES, ids=[t["argspec"] for t in TEMPLATES])
def test_operator_policy_is_never_asked_nor_shipped_on(template):
    asked = [q["variable"] for q in (template.get("survey_spec") or {}).get("spec", [])]
    assert asked, template["argspec"]
    assert not set(asked) & set(OPERATOR_ONLY), (template["argspec"], asked)
    shipped = yaml.safe_dump(template.get("extra_vars") or {})
    assert not [name for name in OPERATOR_ONLY if name in shipped], template["argspec"]
