#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The fuzz Makefile's "run", one target at a time (the Makefile starts
# FUZZ_JOBS of these at once), then one summary line per target:
#
#   fuzz_run.sh TARGET MAX_LEN
#   fuzz_run.sh --summary TARGET...
#
# Environment (set by the Makefile): FUZZ_DIR (this directory), OUT (its
# out/), FUZZ_SECONDS, FUZZ_TIMEOUT (libFuzzer's -timeout), FUZZ_FLAGS
# (more libFuzzer flags).
#
# A run first replays corpus/regressions/TARGET (every file but README and
# those starting with "."), then fuzzes a scratch copy of corpus/TARGET
# plus those inputs in out/run/TARGET for FUZZ_SECONDS with
# -print_final_stats=1 and -max_len=MAX_LEN; crash inputs go to out/artifacts/.  Its log is
# out/run/TARGET.log, its one-line result out/run/TARGET.result.  --summary prints the results and the tail of each
# failed run's log, and exits non-zero if any run failed or has no result.
set -u

regressions() # target
{
	find "$FUZZ_DIR/corpus/regressions/$1" -maxdepth 1 -type f \
		! -name '.*' ! -name README 2>/dev/null | sort
}

# The value after "key: " on libFuzzer's last status line.
status_field() # log key
{
	grep -E '^#[0-9]+[[:space:]]' "$1" | grep -E " $2: " | tail -n 1 |
		sed -E "s/.* $2: ([^ ]+).*/\\1/"
}

stat_field() # log name
{
	sed -n "s/^stat::$2:[[:space:]]*//p" "$1" | tail -n 1
}

run_one() # target max_len
{
	t="$1" max_len="$2" secs="${FUZZ_SECONDS:-}"
	bin="$OUT/$t" dir="$OUT/run/$t" log="$OUT/run/$t.log"
	res="$OUT/run/$t.result"

	case "$secs" in
	''|*[!0-9]*|0)
		echo "$t: FUZZ_SECONDS must be a positive number" >"$res"
		return 1
		;;
	esac
	rm -rf "$dir" "$res" && mkdir -p "$dir" "$OUT/artifacts" || return 1
	nreg=$(regressions "$t" | wc -l)
	if [ "$nreg" -gt 0 ]; then
		regressions "$t" | xargs "$bin" \
			-artifact_prefix="$OUT/artifacts/$t-regression-" \
			>"$OUT/run/$t.regressions.log" 2>&1 || {
			cp "$OUT/run/$t.regressions.log" "$log"
			printf '%-10s REGRESSION: an input of corpus/regressions/%s crashes again (log %s)\n' \
				"$t" "$t" "$log" >"$res"
			return 1
		}
		regressions "$t" | xargs cp -t "$dir"
	fi
	cp "$FUZZ_DIR/corpus/$t"/* "$dir/" || return 1

	start=$(date +%s)
	# FUZZ_FLAGS is split into words on purpose.
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -max_len="$max_len" \
		-timeout="${FUZZ_TIMEOUT:-25}" -print_final_stats=1 \
		-artifact_prefix="$OUT/artifacts/$t-" \
		${FUZZ_FLAGS:-} "$dir" >"$log" 2>&1
	rc=$?
	elapsed=$(($(date +%s) - start))

	execs=$(stat_field "$log" number_of_executed_units)
	rate=$(stat_field "$log" average_exec_per_sec)
	cov=$(status_field "$log" cov)
	ft=$(status_field "$log" ft)
	corp=$(status_field "$log" corp)
	line=$(printf '%-10s %4s s %11s execs %8s execs/s  cov %-5s ft %-6s corpus %s  regressions %s' \
		"$t" "$elapsed" "${execs:--}" "${rate:--}" "${cov:--}" \
		"${ft:--}" "${corp:--}" "$nreg")
	if [ "$rc" -eq 0 ]; then
		echo "$line  ok" >"$res"
		return 0
	fi
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" |
		tail -n 1)
	{
		echo "$line  CRASH (exit $rc)"
		if [ -n "$crash" ]; then
			echo "           input: $crash"
			echo "           keep it: cp $crash $FUZZ_DIR/corpus/regressions/$t/"
		fi
	} >"$res"
	return 1
}

summary() # targets...
{
	fail=0
	for t in "$@"; do
		res="$OUT/run/$t.result"
		if [ ! -s "$res" ]; then
			printf '%-10s no result (log %s)\n' "$t" "$OUT/run/$t.log"
			fail=1
			continue
		fi
		grep -q '  ok$' "$res" || fail=1
	done
	if [ "$fail" -ne 0 ]; then
		for t in "$@"; do
			res="$OUT/run/$t.result"
			[ -s "$res" ] && grep -q '  ok$' "$res" && continue
			echo "--- $t: the end of $OUT/run/$t.log"
			tail -n 40 "$OUT/run/$t.log" 2>/dev/null
		done
	fi
	for t in "$@"; do
		cat "$OUT/run/$t.result" 2>/dev/null
	done
	if [ "$fail" -ne 0 ]; then
		echo "fuzz: FAILED"
		return 1
	fi
	echo "fuzz: $# targets, no crash"
}

: "${FUZZ_DIR:?}" "${OUT:?}"
if [ "${1:-}" = --summary ]; then
	shift
	summary "$@"
	exit
fi
run_one "$@"
