#pragma once

// The strand CLI's exit codes. Scripts branch on them, so they never change meaning.

namespace strand::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRequestError = 1;  // the cluster answered with an error
inline constexpr int kExitUsage = 2;         // bad command line (also CLI11's parse errors)
inline constexpr int kExitUnreachable = 3;   // no address of the bootstrap list answered

}  // namespace strand::cli
