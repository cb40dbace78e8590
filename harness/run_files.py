"""The files a run leaves in its results directory beside the cells'
directories, written alike by run-tests.sh and by merge-results.sh (which
makes them for the shards of a run joined)."""
import os
import sys

from . import ktap, report, report_html

TAP_FILE = "results.tap"
KTAP_FILE = "results.ktap"
JUNIT_FILE = "junit.xml"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"


def write(results_dir, tap, results, versions):
    """Write the run's TAP (the lines `tap`), KTAP, JUnit and reports;
    returns the KTAP text."""
    with open(os.path.join(results_dir, TAP_FILE), "w") as f:
        f.write("\n".join(tap) + "\n")
    report.write_junit(os.path.join(results_dir, JUNIT_FILE), results)
    text = ktap.render(results)
    with open(os.path.join(results_dir, KTAP_FILE), "w") as f:
        f.write(text)
    report.write_markdown(os.path.join(results_dir, REPORT_MD), results, versions)
    report_html.write_html(os.path.join(results_dir, REPORT_HTML), results, versions)
    print("# report: %s (and %s)" % (os.path.join(results_dir, REPORT_MD), REPORT_HTML),
          file=sys.stderr)
    return text
