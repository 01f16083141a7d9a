#!/usr/bin/env bash
# Print a working Python 3.12 interpreter (the Lambda runtime's version): pyenv's, then PATH's.
set -uo pipefail
root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
for candidate in "$root"/versions/3.12*/bin/python3.12 "$(command -v python3.12 2>/dev/null)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
    echo "$candidate"; exit 0
  fi
done
echo "Python 3.12 not found: install it (e.g. 'pyenv install 3.12') so the venv matches the Lambda runtime" >&2
exit 1
