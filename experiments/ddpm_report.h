// report.html of a DDPM run: the final held-out metrics (with the data-vs-data level or the
// classifier's own accuracy beside them), the loss and metric curves from metrics.csv, the last
// sample grids, and the config.
#pragma once
#include <map>
#include <string>

#include "experiments/config.h"
#include "experiments/ddpm_setup.h"
#include "experiments/lenet.h"
#include "experiments/run_folder.h"

namespace difflab::experiments {

// grids: guidance weight -> PNG bytes of the last evaluation's samples.
void write_ddpm_report(const RunFolder& run, const Config& cfg, const DdpmData& data,
                       const DdpmModel& model, const Classifier* classifier,
                       const std::map<double, std::string>& grids, double train_seconds);

}  // namespace difflab::experiments
