"""What is real in the integration suite, per test, and the counts docs/testing.md states (issue 26).

Every test of tests/integration is classified here by what it runs against:
- live: a real server (Apache or nginx) that serves requests (the system Apache through the role, whose probe
  requests each changed site, or a private instance the test starts and asks);
- config: a server only as a config test (`apache2 -t`, the vhost dump, `nginx -t`) or a start-up check, no request;
- tls: real TLS (or plain HTTP) servers, no proxy server;
- neither.
A new test has to be classified (the test fails on an unclassified one), and the counts of collected tests
(parameters included) per kind must be the ones the testing page gives, so the page cannot drift from the suite.
"""
import os
import re
import subprocess
import sys

from conftest import ROOT

LIVE, CONFIG, TLS, NEITHER = "live", "config", "tls", "neither"

# file -> its kind, or {test function: kind}
KINDS = {
    "test_acme.py": LIVE,  # a private Apache (or the system one through the role) ordering from pebble, serving
    "test_adopt.py": LIVE,
    "test_apache_proxy_role.py": LIVE,
    "test_backend_handshake_oracle.py": {
        "test_module_agrees_with_apache": LIVE,
        "test_every_case_is_listed": NEITHER,
        "test_hostile_backends_do_not_delay_others": TLS,
        "test_no_cipher_match_agrees_with_apache_startup": CONFIG,
    },
    "test_audit.py": {
        "test_current_verdicts_agree_with_what_apache_answers": LIVE,
        "test_proposals_render_and_answer_200_with_verification_on": LIVE,
        None: CONFIG,  # httpd's config dumps of the hand-written tree, real TLS backends, no request through Apache
    },
    "test_backend_handshake_playbook.py": TLS,
    "test_check_reports.py": TLS,
    "test_execution_environment.py": NEITHER,
    "test_fleet.py": {
        "test_change_rolls_out_one_proxy_at_a_time": LIVE,
        "test_a_change_refused_on_the_first_proxy_goes_no_further": LIVE,
        "test_batches_of_two_from_a_survey_answer": LIVE,
        "test_check_job_template_is_sliced_into_jobs_with_their_own_reports": TLS,
    },
    "test_frontend_preflight.py": LIVE,
    "test_host_reads.py": {
        "test_live_vhosts_of_a_real_config": CONFIG,
        "test_live_vhosts_through_the_layouts_config_test_command": CONFIG,
        "test_a_broken_config_is_a_clear_error": CONFIG,
        "test_special_files_fail_clearly_through_the_modules": NEITHER,
    },
    "test_handoff_hostile.py": {
        "test_an_unprivileged_user_cannot_reach_or_precreate_the_runtime_directory": NEITHER,
        "test_a_runtime_directory_another_user_could_write_is_never_trusted": NEITHER,
        "test_planted_entries_at_the_handoff_path_are_never_followed_or_trusted": NEITHER,
        "test_a_directory_at_the_handoff_path_reads_as_no_set": NEITHER,
        "test_a_set_replaced_before_the_probe_never_leaves_an_unprobed_change": LIVE,
        None: CONFIG,  # the plan through ansible-playbook on a private tree, config-tested, then the later calls
    },
    "test_hostile_backends.py": TLS,
    "test_hostile_inputs.py": CONFIG,
    "test_playbooks_awx.py": {
        "test_check_job_of_type_check": TLS,
        "test_check_job_fail_on_never_and_own_report_dir": TLS,
        "test_survey_mistakes_fail_clearly": NEITHER,
        "test_check_of_500_backends_keeps_events_small": TLS,
        "test_report_renders_in_headless_chromium": TLS,
        "test_site_then_diagnose_jobs": LIVE,
    },
    "test_metrics.py": {
        "test_check_writes_metrics_that_prometheus_parses": TLS,
        None: NEITHER,  # refusals before any check
    },
    "test_nginx_hostile.py": {
        "test_hostile_site_inputs_for_nginx": CONFIG,
        "test_what_the_fields_let_nginx_do_live": LIVE,
    },
    "test_nginx_oracle.py": {
        "test_startup_refusals_agree_with_nginx_t": CONFIG,
        "test_client_certificate_file_nginx_cannot_load": CONFIG,
        "test_hostile_backends_do_not_delay_others": TLS,
        "test_the_same_site_checked_for_apache_and_for_nginx": TLS,
        "test_every_case_is_listed": NEITHER,
        None: LIVE,  # a private nginx asked through each case, its status and error log read
    },
    "test_nginx_role.py": LIVE,
    "test_pools.py": {
        "test_different_cas_and_a_client_certificate_in_one_vhost": LIVE,
        "test_site_settings_alone_do_not_reach_the_other_backends": LIVE,
        "test_pool_of_three_with_one_broken_member": LIVE,
        "test_checker_reports_each_member_with_its_settings": TLS,
        "test_checker_min_ok_goes_live_with_a_warning": TLS,
        "test_checker_without_the_client_certificate_names_the_member": TLS,
        "test_plain_http_pool": LIVE,
        "test_health_check_takes_a_stopped_member_out_and_brings_it_back": LIVE,
        "test_health_check_would_ignore_the_pools_own_settings": LIVE,
        "test_checker_catches_members_that_fail_the_health_checks_handshake": TLS,
        "test_sticky_cookie_set_by_the_proxy_and_followed": LIVE,
        "test_drain_under_a_request_loop_and_manager_unreachable_from_outside": LIVE,
        "test_role_applies_pools_and_per_location_tls": LIVE,
    },
    "test_public_side.py": {
        "test_rerender_is_byte_identical": NEITHER,
        "test_variants_pass_apache_config_test": CONFIG,
        None: LIVE,  # every other test asks the running instance (the sslyze scan included)
    },
    "test_redhat_layout.py": {
        "test_rhel_layout_with_the_real_binary": LIVE,
        "test_module_validates_against_the_live_rhel_tree": CONFIG,
    },
    "test_review_23.py": {
        "test_harmless": CONFIG,
        "test_a_site_takes_no_name_of_another_live": LIVE,
        "test_a_site_takes_no_hand_written_name_live": LIVE,
        "test_a_site_does_not_become_the_default_server_of_a_hand_written_port_live": LIVE,
        "test_a_port_nginx_cannot_bind_rolls_back_live": LIVE,
        None: NEITHER,  # refusal tables and the nginx -T dump parser on recorded text
    },
    "test_review_24.py": {
        "test_replacing_a_file_with_server_wide_tls_settings_is_refused": LIVE,
        "test_replacing_the_default_server_of_a_shared_port_is_refused": LIVE,
        "test_a_survey_cannot_publish_the_metrics_in_a_document_root": LIVE,
        "test_audit_report_shows_hostile_names_and_subjects_as_text": CONFIG,
        None: NEITHER,  # refusal tables on scratch trees, the metrics writer
    },
    "test_review_25.py": {
        "test_md_status_is_not_published_through_a_survey_users_backend": LIVE,
        "test_a_sites_contact_never_becomes_the_contact_of_the_account_every_site_uses": LIVE,
        "test_within_the_lifetime_mod_md_orders_once_and_the_job_restarts_once": LIVE,
        "test_a_failed_order_for_a_new_alias_leaves_the_served_certificate_and_the_rollback_whole": LIVE,
        "test_a_trailing_dot_in_an_acme_sites_name_never_takes_the_server_down": LIVE,
        None: NEITHER,  # refusal tables, the one-token read-back, the renewal job's tasks in check mode
    },
    "test_review_fixes.py": LIVE,
    "test_rollback_transitions.py": {
        "test_rollback_restores_exactly[restore]": CONFIG,
        None: LIVE,
    },
    "test_safe_apply.py": LIVE,
    "test_secrets.py": CONFIG,
    "test_selinux_tasks.py": NEITHER,
    "test_semantic_hostile.py": LIVE,
    "test_suite_description.py": NEITHER,
    "test_support_kit.py": {
        "test_pki_files": NEITHER,
        "test_private_apache_proxies_with_verification": LIVE,
        None: TLS,  # the harness's TLS and hostile backends
    },
    "test_usage_docs.py": NEITHER,
}
# How the testing page words each count: "<n> run a real Apache that serves requests" and so on.
PAGE = os.path.join(ROOT, "docs", "testing.md")
PHRASES = {LIVE: r"(\d+) run a real server \(Apache or nginx\) that serves requests",
           CONFIG: r"(\d+) run a server only as a config test", TLS: r"(\d+) use real TLS servers but no proxy server",
           NEITHER: r"(\d+) use neither"}
TOTAL = r"What is real, per test \((\d+) tests;"


def _kind(nodeid):
    path, _sep, test = nodeid.partition("::")
    kinds = KINDS.get(os.path.basename(path))
    assert kinds is not None, "%s: a new integration file; classify its tests in %s" % (path, __file__)
    if isinstance(kinds, str):
        return kinds
    function = test.split("[", 1)[0]
    for key in (test, function, None):
        if key in kinds:
            return kinds[key]
    raise AssertionError("%s: a new test; classify it in %s" % (nodeid, __file__))


def test_every_test_is_classified_and_the_page_gives_the_counts():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           os.path.join(ROOT, "tests", "integration")], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, check=False)
    nodeids = [line for line in proc.stdout.splitlines() if "::" in line]
    assert proc.returncode == 0 and len(nodeids) > 150, proc.stdout[-3000:] + proc.stderr[-3000:]
    counts = dict((kind, 0) for kind in PHRASES)
    for nodeid in nodeids:
        counts[_kind(nodeid)] += 1
    with open(PAGE, encoding="utf-8") as handle:
        page = " ".join(handle.read().split())
    stated = dict((kind, [int(n) for n in re.findall(phrase, page)]) for kind, phrase in PHRASES.items())
    stated_total = [int(n) for n in re.findall(TOTAL, page)]
    assert (stated, stated_total) == (dict((k, [n]) for k, n in counts.items()), [len(nodeids)]), \
        "docs/testing.md states %r of %r tests; the suite has %r of %d" % (stated, stated_total, counts, len(nodeids))
