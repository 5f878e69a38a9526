// A DDPM experiment's model: the keys of a train-ddpm run, the typed network and diffusion
// settings read from them, and the score network (MLP for vectors, U-Net for images) with its
// schedule, parameterization and loss weighting.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "diffusion/denoiser.h"
#include "diffusion/loss.h"
#include "diffusion/parameterization.h"
#include "diffusion/schedule.h"
#include "experiments/config.h"
#include "experiments/dataset.h"
#include "nn/module.h"
#include "tensor/device.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

// Declares every key of a DDPM run with its default, range and help.
Config ddpm_config();

// The network and diffusion settings of a DDPM run (model.*, diffusion.*, seed, device).
struct DdpmModelSettings {
  int64_t hidden = 128, depth = 3, time_embed_dim = 32;  // MLP (vector data)
  int64_t base_channels = 32, num_res_blocks = 1;        // U-Net (image data)
  std::vector<int64_t> channel_mults{1, 2, 4}, attention_resolutions;
  double dropout = 0;
  bool class_cond = false;
  std::string schedule = "linear";
  diffusion::Parameterization param = diffusion::Parameterization::eps;
  diffusion::LossWeighting weighting = diffusion::LossWeighting::prediction_mse;
  uint64_t seed = 0;  // initialisation: seed·7 + 11
  tensor::Device device;
};
DdpmModelSettings ddpm_model_settings(const Config& cfg);


struct DdpmModel {
  std::shared_ptr<nn::Module> module;
  diffusion::Denoiser net;  // (z, t_net, labels) -> output in `param`
  diffusion::Parameterization param = diffusion::Parameterization::eps;
  std::shared_ptr<const diffusion::Schedule> schedule;
  diffusion::LossWeighting weighting = diffusion::LossWeighting::prediction_mse;
  int64_t num_classes = 0;  // > 0: class-conditional with a null class for guidance
  tensor::Shape sample_shape;  // one sample's shape
};
// Builds the network (initialised from the seed on the CPU, then moved to the device) for data
// of this shape.
DdpmModel make_ddpm_model(const DdpmModelSettings& s, const Dataset& data);

}  // namespace difflab::experiments
