#pragma once

// The strand CLI's exit codes. Scripts branch on them, so they never change meaning.

namespace strand::cli {

inline constexpr int kExitOk = 0;
// The cluster answered with an error; produce / perf produce: a record was not delivered.
inline constexpr int kExitRequestError = 1;
inline constexpr int kExitUsage = 2;         // bad command line (also CLI11's parse errors)
inline constexpr int kExitUnreachable = 3;   // no address of the bootstrap list answered
// produce: a line on stdin that is no record (no key separator); the lines before it were sent.
inline constexpr int kExitBadInput = 4;
// consume / perf consume: the idle timeout passed before --max-records / --records arrived.
inline constexpr int kExitIncomplete = 5;
// drill run: a scenario found a violation (loss, duplicates, ...), a fault had no effect, or the
// cluster did not recover.
inline constexpr int kExitDrillFailed = 6;

}  // namespace strand::cli
