#!/usr/bin/env bash
# Run ite-lab's scenarios: boot each guest kernel on ite-lab's QEMU, drive
# the scenario over QMP and the guest agent, assert on the guest log.
# See docs/harness.md, or: ./run-tests.sh --help
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
# Debian's python3, not pyenv's: QEMU's qmp library is used from the tree.
exec /usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from harness.main import main; sys.exit(main(sys.argv[2:]))' "$top" "$@"
