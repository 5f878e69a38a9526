// report.html of a DDPM run: the final held-out metrics (with the data-vs-data level or the
// classifier's own accuracy beside them), the loss and metric curves from metrics.csv, the last
// sample grids, and the config.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "experiments/lenet.h"
#include "experiments/run_folder.h"
#include "experiments/train_ddpm.h"

namespace difflab::experiments {

// grids: guidance weight -> PNG bytes of the last evaluation's samples; `config` is the run's
// resolved config, shown at the end.
void write_ddpm_report(const RunFolder& run, const DdpmRunSettings& s, const nlohmann::json& config,
                       const Dataset& data, const DdpmModel& model, const Classifier* classifier,
                       const std::map<double, std::string>& grids, double train_seconds);

}  // namespace difflab::experiments
