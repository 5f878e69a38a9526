// report.html of `difflab mem-depth`: memory, time and gradient error against K on log–log
// axes with fitted slopes, the full table, and the acceptance checks of spec §4.4 with verdicts.
#pragma once
#include <vector>

#include "experiments/mem_depth.h"
#include "experiments/report.h"

namespace difflab::experiments {

// Least-squares slope of log y against log x over the points with x, y > 0 (NaN with < 2).
double loglog_slope(const std::vector<double>& x, const std::vector<double>& y);
// Least-squares slope of y against x (NaN with < 2 points).
double linear_slope(const std::vector<double>& x, const std::vector<double>& y);

// One line per acceptance check of one sampler's rows: "PASS …" or "FAIL …" with the figures.
std::vector<std::string> mem_depth_checks(const std::vector<MemDepthRow>& rows);

Report mem_depth_report(const MemDepthSettings& s, const std::vector<MemDepthRow>& rows);

}  // namespace difflab::experiments
