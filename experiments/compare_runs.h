// `difflab compare-runs`: gathers finished runs into one comparison page. For each run folder in
// compare.runs it tabulates the last logged value (and its step) of every chosen metric, embeds
// the run's latest sample grid and links its own report.html and config. The compared runs are
// only read, never written; the page goes to its own run folder (default runs/compare-runs).
// compare.views shows one folder through other metric names (a distill run's students), and
// compare.grids picks the grid shown.
#pragma once
#include "experiments/command.h"

namespace difflab::experiments {

Config compare_runs_config();
int run_compare_runs(const CommandArgs& args);

}  // namespace difflab::experiments
