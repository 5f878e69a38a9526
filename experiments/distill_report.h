// report.html of a distillation run, from its metrics.csv, timing.json and sample grids: the
// quality-versus-steps table (student at N, teacher DDIM at N, teacher reference samplers), the
// same as a log-scale plot, the chain's wall time against the teacher's training time, the
// loss curve and the grids of every stage.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/ddpm_setup.h"
#include "experiments/lenet.h"
#include "experiments/run_folder.h"

namespace difflab::experiments {

// samples/<name>.png of an evaluation: "student_4", "ddim_256", "reference_ddpm".
std::string distill_sample_name(const std::string& tag, const std::string& suffix);

// Updates of the round that distils to n steps: distill.updates, times
// distill.last_rounds_factor for 2 and 1 steps.
int64_t distill_round_updates(const Config& cfg, int64_t n);

void write_distill_report(const RunFolder& run, const Config& cfg, const Config& teacher_cfg,
                          const DdpmData& data, const DdpmModel& teacher,
                          const std::vector<int64_t>& rounds, int64_t start_steps,
                          const nlohmann::json& timing, const Classifier* classifier);

}  // namespace difflab::experiments
