#pragma once

// A plain-text table for human output: a header row and left-aligned columns separated by two
// spaces, like kubectl's. An empty table renders as its header alone.

#include <string>
#include <vector>

namespace strand::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header);

  // A row has exactly as many cells as the header (checked).
  void AddRow(std::vector<std::string> cells);
  // Lines end with '\n'; no trailing spaces.
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

}  // namespace strand::cli
