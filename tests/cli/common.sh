# What every end-to-end CLI check shares; sourced after `set -uo pipefail` with mer=<binary>, src=<source
# dir>. Gives $tmp (removed on exit), pass/fail (counting failures into $failures) and expect.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }

# expect <name> <exit code> <text stdout or stderr must contain> -- command...
# A non-zero exit must come with exactly one 'mer:' error line: errors are one sentence.
expect() {
  local name=$1 code=$2 text=$3
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local lines
  lines=$(grep -c '^mer: ' "$tmp/err")
  if [ "$rc" -ne "$code" ]; then
    fail "$name: exit $rc, expected $code; stderr: $(tail -3 "$tmp/err")"
  elif [ "$code" -ne 0 ] && [ "$lines" -ne 1 ]; then
    fail "$name: expected one 'mer:' error line, got $lines: $(cat "$tmp/err")"
  elif ! grep -qF -- "$text" "$tmp/err" "$tmp/out"; then
    fail "$name: output lacks '$text': $(tail -5 "$tmp/out") $(tail -3 "$tmp/err")"
  else
    pass "$name"
  fi
}
