#include "storage/recovery_report.h"

#include <fmt/format.h>

namespace strand::storage {

std::string RecoveryReport::ToString() const {
  std::string out = fmt::format(
      "{} shutdown; {} segments, {} scanned ({} bytes, {} batches) from recovery point {}; "
      "log [{}, {})",
      clean_shutdown ? "clean" : "unclean", segments, segments_scanned, bytes_scanned,
      batches_scanned, recovery_point, log_start_offset, log_end_offset);
  if (cut) {
    out += fmt::format(
        "; CUT at offset {} (segment {}, position {}): {}; removed {} bytes and {} later "
        "segments",
        cut->offset, cut->segment_base, cut->position, cut->reason, cut->bytes_removed,
        cut->segments_removed);
  }
  if (unwritten_bytes_trimmed > 0) {
    out += fmt::format("; trimmed {} bytes of unwritten space", unwritten_bytes_trimmed);
  }
  auto list = [&](const char* what, const std::vector<std::string>& items) {
    if (items.empty()) return;
    out += fmt::format("; {}: {}", what, fmt::join(items, ", "));
  };
  list("indexes rebuilt", indexes_rebuilt);
  list("damaged segments", damaged_segments);
  list("leftovers removed", leftovers_removed);
  list("swaps completed", swaps_completed);
  list("warnings", warnings);
  out += fmt::format("; took {} us", duration_us);
  return out;
}

}  // namespace strand::storage
