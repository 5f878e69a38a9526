// Held-out metrics of generated samples. Vectors: MMD (Gaussian kernel, V-statistic, its square
// root) against the held-out set, beside the same MMD of an independent draw of the data (the
// level a perfect model reaches at this sample size), energy distance and sliced W1. Images:
// Fréchet distance and KID in the LeNet classifier's features against the held-out split, the
// classifier's mean confidence, and for class-conditional samples the fraction classified as
// the requested class.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "experiments/ddpm_model.h"
#include "experiments/lenet.h"
#include "experiments/metrics/frechet.h"

namespace difflab::experiments {

using Metrics = std::vector<std::pair<std::string, double>>;

// `reference_level` adds the data-vs-data MMD (computed once; pass false to skip it).
Metrics vector_sample_metrics(const Dataset& data, const tensor::Tensor& samples,
                              bool reference_level = true);

struct ImageJudge {
  Classifier classifier;
  FeatureStats test_stats;  // of the held-out split's features
  tensor::Tensor test_features;
  // The same metrics for real train images (as many as a metric's sample count): the level a
  // perfect generator reaches at this sample size.
  double data_frechet = 0, data_kid = 0;
  // Precision and recall (k = 3) of those train images' features against the held-out ones.
  double data_precision = 0, data_recall = 0;
  // Each class's share of the held-out labels: what a generator's class shares are compared with.
  std::vector<double> data_class_share;
};
ImageJudge make_image_judge(const Dataset& data, const std::string& data_name,
                            int64_t reference_n = 1000);
Metrics image_sample_metrics(const ImageJudge& judge, const tensor::Tensor& samples,
                             const tensor::Tensor& requested_labels = tensor::Tensor());

// Whether a data set's samples are judged by the LeNet: images, or vectors that decode to
// images (mnist_pca).
bool judged_as_images(const Dataset& data);
// The held-out metrics of `samples`: image metrics for images; vector metrics for vectors
// (`reference_level` as above), followed by the image metrics of what they decode to when they
// encode images. `judge` is needed whenever judged_as_images(data).
Metrics sample_metrics(const Dataset& data, const ImageJudge* judge, const tensor::Tensor& samples,
                       const tensor::Tensor& requested_labels = tensor::Tensor(),
                       bool reference_level = true);
// A sentence for reports on whether samples resolved the data's known shape, from the last
// logged metrics ("<prefix>hq_share<suffix>" and friends): the high-quality share, modes
// covered and log-density gap of a mixture, or the checkerboard's cell figures; it says in words
// when the modes are not resolved (hq share < 0.9 or a mode missing). "" without such metrics.
std::string mode_verdict(const std::map<std::string, double>& last, const Dataset& data,
                         const std::string& prefix = "", const std::string& suffix = "");

// PNG bytes showing samples: a grid of the first `grid` images, `nrow` per row (vectors that
// encode images are decoded first), or a 2-D scatter of vectors.
std::string samples_png(const Dataset& data, const tensor::Tensor& samples, int64_t grid,
                        int64_t nrow = 8);

// A 2-D scatter of the first two coordinates rendered as a PNG density image.
std::string scatter_png(const tensor::Tensor& points, double extent = 2.5, int64_t size = 256);
// A histogram of 1-D values [N, 1] over [−extent, extent] (black bars, x = 0 dotted).
std::string histogram_png(const tensor::Tensor& values, double extent, int64_t width = 256,
                          int64_t height = 128);

}  // namespace difflab::experiments
