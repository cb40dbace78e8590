"""ite-lab's test harness (run-tests.sh)."""
import os

# The project's top directory: where run-tests.sh, scenarios/, scripts/
# and guest-image/ are.
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
