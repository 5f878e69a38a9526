// report.html of a distillation run, from its metrics.csv, timing.json and sample grids: the
// quality-versus-steps table (student at N, teacher DDIM at N, teacher reference samplers), the
// same as a log-scale plot, the chain's wall time against the teacher's training time, the
// loss curve and the grids of every stage.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/distill.h"
#include "experiments/train_ddpm.h"
#include "experiments/lenet.h"
#include "experiments/run_folder.h"

namespace difflab::experiments {

// samples/<name>.png of an evaluation: "student_4", "ddim_256", "reference_ddpm".
std::string distill_sample_name(const std::string& tag, const std::string& suffix);

void write_distill_report(const RunFolder& run, const DistillSettings& s,
                          const nlohmann::json& config, const DdpmRunSettings& ts,
                          const Dataset& data, const DdpmModel& teacher,
                          const std::vector<int64_t>& rounds, const nlohmann::json& timing,
                          const Classifier* classifier);

}  // namespace difflab::experiments
