// The `difflab` command line: one subcommand per entry of the command table
// (experiments/command_table.h), each taking --preset, --config, --set key=value overrides,
// --seed, --threads, --device and --run (the run folder), and --keys where it has keys.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "experiments/cancel.h"
#include "experiments/command_table.h"

using namespace difflab::experiments;

namespace {
struct Parsed {
  CommandArgs args;
  int64_t seed = -1;
  int threads = -1;
  bool show_keys = false;
};

CLI::App* add_command(CLI::App& app, const CommandSpec& c, Parsed& p) {
  CLI::App* cmd = app.add_subcommand(c.name, c.help);
  CommandArgs& a = p.args;
  cmd->add_option("--preset", a.preset, "preset name (experiments/configs/<name>.json)");
  cmd->add_option("--config", a.config_path, "JSON config file");
  cmd->add_option("--set", a.sets, "override: key=value (repeatable)");
  cmd->add_option("--seed", p.seed, "random seed");
  cmd->add_option("--threads", p.threads, "CPU threads (0 = all)");
  cmd->add_option("--device", a.device, "cpu, cuda or cuda:<index> (default cpu)");
  cmd->add_option("--run", a.run_dir, "run folder (default runs/<command>-<preset>)");
  if (c.resumable) cmd->add_flag("--resume", a.resume, "continue the run in --run bit-exactly");
  if (c.takes_checkpoint)
    cmd->add_option("--checkpoint", a.checkpoint, "weights (default: the run's published ones)");
  if (c.keys) cmd->add_flag("--keys", p.show_keys, "list every config key with its default and range");
  return cmd;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"difflab: diffusion research experiments"};
  app.require_subcommand(1);
  Parsed p;
  std::vector<std::pair<CLI::App*, const CommandSpec*>> subs;
  for (const CommandSpec& c : command_table()) subs.emplace_back(add_command(app, c, p), &c);
  CLI11_PARSE(app, argc, argv);
  if (p.seed >= 0) p.args.seed = p.seed;
  if (p.threads >= 0) p.args.threads = p.threads;
  try {
    for (auto& [sub, spec] : subs) {
      if (!*sub) continue;
      if (p.show_keys) {
        std::printf("%s", spec->keys().help().c_str());
        return 0;
      }
      const int rc = spec->run(p.args);
      return cancel_requested() ? 130 : rc;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\ndifflab: error: %s\n", e.what());
    return cancel_requested() ? 130 : 1;
  }
  return 0;
}
