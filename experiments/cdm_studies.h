// The two studies of `difflab cdm` beside the benchmark (issue: inner-sampler control and
// sensitivity).
// Inner-sampler control: at fixed probe points (x* and draws of the X marginal) the x-gradient
// of the matching loss through the one-step consistency sampler and through K*-step unrolled
// DDIM samplers of the slow model, with and without per-step checkpointing: its cosine against
// the largest K*'s gradient, the allocator's peak bytes, the saved bytes of the graph
// (graph_stats) and the time; then full MLGD runs per K* for the L2 GMM.
// Sensitivity: MLGD-F over n × J.
#pragma once
#include <string>
#include <vector>

#include "experiments/cdm.h"
#include "experiments/report.h"
#include "experiments/run_folder.h"

namespace difflab::experiments {

struct InnerControlRow {
  std::string sampler;      // "consistency, 1 evaluation", "DDIM 16 steps, checkpointed"
  int64_t evaluations = 0;  // network evaluations per inner sample
  bool checkpoint = false;
  double cosine = 0;        // against the reference (largest K*, no checkpointing)
  size_t peak_bytes = 0, saved_bytes = 0;
  double seconds = 0;
};
std::vector<InnerControlRow> inner_control_gradients(const CdmBench& b);

// Runs (or, with --resume, reads back) both studies as the settings ask, logs their rows and
// adds their sections to the report.
void run_cdm_studies(const CdmBench& b, RunFolder& run, bool resume, Report& rep);

}  // namespace difflab::experiments
