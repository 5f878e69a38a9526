// Every `difflab` command in one table: its name, help, keys and entry point. The command line
// (experiments/cli/main.cpp) builds its subcommands, --keys, --help and dispatch from it, so
// adding a command is its own file plus one line in command_table.cpp.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "experiments/command.h"

namespace difflab::experiments {

struct CommandSpec {
  std::string name;  // "train-ddpm"
  std::string help;
  std::function<Config()> keys;  // every config key with default and range (null: none)
  std::function<int(const CommandArgs&)> run;
  bool resumable = false;        // takes --resume
  bool takes_checkpoint = false;  // takes --checkpoint
};

const std::vector<CommandSpec>& command_table();
// The entry named `name`, or null.
const CommandSpec* find_command(const std::string& name);

}  // namespace difflab::experiments
