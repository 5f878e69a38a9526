// LeNet-5 classifier, trained by difflab on a data set's train split and cached: the feature
// extractor for the Fréchet distance and KID of generated images (its 84-dim penultimate layer)
// and the judge of class-conditional samples (accuracy, confidence). Its held-out accuracy is
// recorded with the cache and reported beside every metric computed with it.
#pragma once
#include <memory>
#include <string>

#include "experiments/data/image_set.h"
#include "nn/layers.h"

namespace difflab::experiments {

class LeNet : public nn::Module {
 public:
  LeNet(int64_t in_channels, int64_t num_classes, tensor::Generator* gen = nullptr);
  // x [N, C, 28, 28] in [-1, 1] -> logits [N, classes]; features = the 84-dim layer.
  ag::Var forward(const ag::Var& x, ag::Var* features = nullptr) const;
  int64_t in_channels() const { return in_; }
  int64_t num_classes() const { return classes_; }

 private:
  int64_t in_, classes_;
  std::shared_ptr<nn::Conv2d> c1_, c2_;
  std::shared_ptr<nn::Linear> f1_, f2_, f3_;
};

struct Classifier {
  std::shared_ptr<LeNet> net;
  double test_accuracy = 0;  // on the held-out split it was checked on
  std::string cache_path;
};

// Loads data/lenet_<name>.safetensors (under the MNIST cache's folder) if present and matching,
// else trains (Adam, `epochs` over the train split, seed fixed) and writes it atomically.
Classifier load_or_train_classifier(const std::string& name, const ImageSet& train,
                                    const ImageSet& test, int64_t num_classes,
                                    int64_t epochs = 20, bool verbose = true);

struct ClassifierOutputs {
  tensor::Tensor logits;    // f32 [N, classes]
  tensor::Tensor features;  // f32 [N, 84]
};
// Batched, under no-grad.
ClassifierOutputs classify(const LeNet& net, const tensor::Tensor& images, int64_t batch = 500);

}  // namespace difflab::experiments
