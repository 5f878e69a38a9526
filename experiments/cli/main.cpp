// The `difflab` command line: one subcommand per experiment, each taking --preset, --config,
// --set key=value overrides, --seed, --threads, --device and --run (the run folder).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "experiments/command.h"
#include "experiments/compare_runs.h"
#include "experiments/ddpm_setup.h"
#include "experiments/distill.h"
#include "experiments/drift_align.h"
#include "experiments/drift_compare.h"
#include "experiments/train_drift.h"
#include "experiments/train_flux.h"
#include "experiments/train_ddpm.h"

using namespace difflab::experiments;

namespace {
void add_common(CLI::App* cmd, CommandArgs& a, int64_t& seed, int& threads) {
  cmd->add_option("--preset", a.preset, "preset name (experiments/configs/<name>.json)");
  cmd->add_option("--config", a.config_path, "JSON config file");
  cmd->add_option("--set", a.sets, "override: key=value (repeatable)");
  cmd->add_option("--seed", seed, "random seed");
  cmd->add_option("--threads", threads, "CPU threads (0 = all)");
  cmd->add_option("--device", a.device, "cpu, cuda or cuda:<index> (default cpu)");
  cmd->add_option("--run", a.run_dir, "run folder (default runs/<command>-<preset>)");
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"difflab: diffusion research experiments"};
  app.require_subcommand(1);
  CommandArgs args;
  int64_t seed = -1;
  int threads = -1;
  bool show_keys = false;
  auto* train = app.add_subcommand("train-ddpm", "train a DDPM (2-D/N-D vectors or images)");
  add_common(train, args, seed, threads);
  train->add_flag("--resume", args.resume, "continue the run in --run bit-exactly");
  train->add_flag("--keys", show_keys, "list every config key with its default and range");
  auto* sample = app.add_subcommand("sample", "sample a trained run into a grid");
  add_common(sample, args, seed, threads);
  sample->add_option("--checkpoint", args.checkpoint, "weights (default: the run's EMA)");
  auto* eval = app.add_subcommand("eval", "held-out metrics of a trained run's samples");
  add_common(eval, args, seed, threads);
  eval->add_option("--checkpoint", args.checkpoint, "weights (default: the run's EMA)");
  auto* distill = app.add_subcommand(
      "distill", "progressive distillation of a train-ddpm teacher down to 1 step (Salimans & Ho)");
  add_common(distill, args, seed, threads);
  distill->add_flag("--resume", args.resume, "continue the chain in --run bit-exactly");
  distill->add_flag("--keys", show_keys, "list every config key with its default and range");
  auto* align = app.add_subcommand(
      "drift-align", "Laplace drifting vs kernel-score alignment over dimension (unified view, E2)");
  add_common(align, args, seed, threads);
  align->add_flag("--keys", show_keys, "list every config key with its default and range");
  auto* drift = app.add_subcommand("train-drift",
                                   "a one-step generator trained with the drifting loss (Deng et al.)");
  add_common(drift, args, seed, threads);
  drift->add_flag("--resume", args.resume, "continue the run in --run bit-exactly");
  drift->add_flag("--keys", show_keys, "list every config key with its default and range");
  auto* flux = app.add_subcommand("train-flux",
                                  "a vector field trained by flux matching, sampled by Langevin");
  add_common(flux, args, seed, threads);
  flux->add_flag("--resume", args.resume, "continue the run in --run bit-exactly");
  flux->add_flag("--keys", show_keys, "list every config key with its default and range");
  auto* compare = app.add_subcommand(
      "drift-compare", "drifting (Laplace, Gaussian) against DDPM at 1/4/50 steps on 2-D data");
  add_common(compare, args, seed, threads);
  compare->add_flag("--keys", show_keys, "list every config key with its default and range");
  auto* gather = app.add_subcommand(
      "compare-runs", "gather finished run folders (metrics, sample grids) into one page");
  add_common(gather, args, seed, threads);
  gather->add_flag("--keys", show_keys, "list every config key with its default and range");
  CLI11_PARSE(app, argc, argv);
  if (seed >= 0) args.seed = seed;
  if (threads >= 0) args.threads = threads;
  try {
    if (show_keys) {
      Config keys = *distill ? distill_config()
                    : *align ? drift_align_config()
                    : *drift ? drift_config()
                    : *flux  ? flux_config()
                    : *compare ? drift_compare_config()
                    : *gather ? compare_runs_config()
                             : ddpm_config();
      std::printf("%s", keys.help().c_str());
      return 0;
    }
    if (*train) return run_train_ddpm(args);
    if (*sample) return run_sample(args);
    if (*eval) return run_eval(args);
    if (*distill) return run_distill(args);
    if (*align) return run_drift_align(args);
    if (*drift) return run_train_drift(args);
    if (*flux) return run_train_flux(args);
    if (*compare) return run_drift_compare(args);
    if (*gather) return run_compare_runs(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\ndifflab: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
