// strand: the command-line tool for operating a Strand cluster. Everything lives in tools/cli/;
// see docs/operations.md ("strand CLI") for the commands.

#include <iostream>

#include "tools/cli/cli.h"

int main(int argc, char** argv) { return strand::cli::RunCli(argc, argv, std::cout, std::cerr); }
