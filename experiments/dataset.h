// The data set every command trains and evaluates on: 2-D toys, N-D ring mixtures, MLGD-F's
// joint mixtures (cdm<task>_x: the X marginal; cdm<task>_yx: Y with X as its condition), MNIST,
// ColorMNIST, Fashion-MNIST, rotated MNIST (mnist_rot: digits at uniform angles; mnist_rot_yx:
// the angle (cos, sin) with the flattened rotated digit as its condition, MLGD-F's image
// benchmark) or MNIST in PCA coordinates, with its held-out split and, for
// vectors, an independent reference draw; its data.* keys and their typed settings.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "experiments/config.h"
#include "experiments/data/gaussian_mixture.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

using tensor::Tensor;

// Declares data.name (default `name`, one of `choices`), data.pca_dim, n_train, n_test, dim and
// limit_train.
void declare_data_keys(Config& c, const std::string& name, const std::vector<std::string>& choices);

struct DataSettings {
  std::string name;
  int64_t pca_dim = 50;      // mnist_pca: principal components kept
  int64_t n_train = 20000;   // vector data sets: training points
  int64_t n_test = 5000;     //   held-out points
  int64_t dim = 8;           // ring_mog: dimension
  int64_t limit_train = 0;   // image data sets: the first N training images (0 = all)
  uint64_t seed = 0;         // draws of the vector sets, colours of ColorMNIST
  int64_t copies = 4;  // mnist_rot, mnist_rot_yx: rotations drawn per digit (per logical angle)
  double ambiguity = 0.99;  // mnist_rot_yx: classifier confidence that grants a logical angle
};
DataSettings data_settings(const Config& cfg);

struct Dataset {
  std::string name;           // data.name
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
  // The data's density when it is a known Gaussian mixture (ring8, ring_mog), for the mode
  // metrics; null otherwise.
  std::shared_ptr<const GaussianMixture> mixture;
  // Conditional data (cdm<task>_yx, mnist_rot_yx): the condition of each row of
  // train/test/reference, f32 [N, dX]; undefined otherwise.
  tensor::Tensor train_cond, test_cond, reference_cond;
  // mnist_rot_yx: every angle each reference row's image could have (its logical angles + u).
  std::vector<std::vector<double>> reference_angle_sets;
};

// "2d", "5d" or "10d" for the MLGD-F data sets cdm<task>_x and cdm<task>_yx, else "".
std::string cdm_task_of(const std::string& data_name);
Dataset load_dataset(const DataSettings& s);

}  // namespace difflab::experiments
