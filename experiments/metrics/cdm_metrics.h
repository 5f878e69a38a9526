// The figures of MLGD-F's synthetic benchmarks (spec §2.7): per restart the squared L2 between
// the true conditional P(Y | X = x̂) and the target ("L2 GMM"), ‖x̂ − x*‖ and the final matching
// loss; over restarts mean ± std, median, and the top-k by final loss (CDMO's selection).
#pragma once
#include <cstdint>
#include <vector>

#include "experiments/data/joint_gmm.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

struct Stats {
  double mean = 0, sd = 0, median = 0;
};
// Mean, sample standard deviation (0 for one value) and median (the mean of the middle two).
Stats stats_of(std::vector<double> v);

struct CdmScores {
  std::vector<double> l2, distance, final_loss;  // per restart
  Stats l2_all, l2_top, distance_all, loss_all;
  int64_t top_k = 0;  // restarts in l2_top (the k lowest final losses)
};

// x [R, dX] (any float dtype), final_loss per restart, top_k ≥ 1 (clamped to R).
CdmScores score_cdm(const CdmTask& task, const tensor::Tensor& x,
                    const std::vector<double>& final_loss, int64_t top_k);

}  // namespace difflab::experiments
