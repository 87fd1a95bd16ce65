# TAP helpers for the cluster scripts (test/cluster/*.sh): source this file, call
# plan N, then ok/is/like per assertion.  Connection settings come from the
# environment that test/run's cluster sets (PGHOST, PGPORT, PGUSER, PGDATABASE).

tap_n=0
tap_failed=0

plan() { echo "1..$1"; }

# ok CONDITION-EXIT-STATUS DESCRIPTION: passes when the status is 0
ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

# is GOT EXPECTED DESCRIPTION
is() {
	tap_n=$((tap_n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $tap_n - $3"
	else
		echo "not ok $tap_n - $3"
		echo "#   got:      '$1'"
		echo "#   expected: '$2'"
		tap_failed=$((tap_failed + 1))
	fi
}

# like GOT EXTENDED-REGEX DESCRIPTION
like() {
	tap_n=$((tap_n + 1))
	if printf '%s' "$1" | grep -qE -- "$2"; then
		echo "ok $tap_n - $3"
	else
		echo "not ok $tap_n - $3"
		echo "#   got:      '$1'"
		echo "#   expected to match: '$2'"
		tap_failed=$((tap_failed + 1))
	fi
}

# q [psql options...] SQL: runs one statement, prints its unaligned result (and errors)
q() {
	local sql="${*: -1}"
	psql -X -q -A -t -v ON_ERROR_STOP=1 "${@:1:$#-1}" -c "$sql" 2>&1
}
