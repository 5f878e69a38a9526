// The pieces of a DDPM experiment built from its resolved Config: the declared keys (shared by
// train-ddpm, sample and eval), the data (2-D toys, N-D rings, MNIST, ColorMNIST,
// Fashion-MNIST), the score network (MLP for vectors, U-Net for images) and the diffusion
// settings (schedule, parameterization, loss weighting).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "diffusion/denoiser.h"
#include "diffusion/loss.h"
#include "diffusion/parameterization.h"
#include "diffusion/schedule.h"
#include "experiments/config.h"
#include "nn/module.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

// Declares every key of a DDPM run with its default, range and help.
Config ddpm_config();

struct DdpmData {
  bool images = false;        // [N, C, H, W] images in [-1, 1], else vectors [N, D]
  tensor::Tensor train, test;  // f32
  tensor::Tensor train_labels, test_labels;  // i64 (undefined for unlabelled toys)
  int64_t num_classes = 0;    // classes available for conditioning (0 = none)
  // For vector data: an independent draw of the data distribution of the test set's size,
  // the reference "data vs data" level for the sample metrics (undefined for images).
  tensor::Tensor reference;
  std::string description;
  // Vectors that encode images (mnist_pca: principal-component coordinates): the map back to
  // images in [−1, 1], the image splits and the image set's name, for the image metrics.
  // Empty for every other data set.
  std::function<tensor::Tensor(const tensor::Tensor&)> decode;
  tensor::Tensor train_images, test_images;
  std::string image_set;
};
DdpmData load_ddpm_data(const Config& cfg);

struct DdpmModel {
  std::shared_ptr<nn::Module> module;
  diffusion::Denoiser net;  // (z, t_net, labels) -> output in `param`
  diffusion::Parameterization param = diffusion::Parameterization::eps;
  std::shared_ptr<const diffusion::Schedule> schedule;
  diffusion::LossWeighting weighting = diffusion::LossWeighting::prediction_mse;
  int64_t num_classes = 0;  // > 0: class-conditional with a null class for guidance
  tensor::Shape sample_shape;  // one sample's shape
};
// Builds the network (initialised from `seed`) for data of this shape, on the config's device.
DdpmModel make_ddpm_model(const Config& cfg, const DdpmData& data);

// Comma-separated numbers ("1,2,4") from a config string; throws naming the key.
std::vector<double> parse_list(const std::string& text, const std::string& key);
// Comma-separated names ("ring, raw"), spaces dropped, empty items skipped.
std::vector<std::string> parse_names(const std::string& text);

}  // namespace difflab::experiments
