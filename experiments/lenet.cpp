#include "experiments/lenet.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "autograd/grad_mode.h"
#include "experiments/data/batch_iterator.h"
#include "experiments/data/mnist.h"
#include "experiments/io.h"
#include "experiments/metrics/classification.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "tensor/factory.h"

namespace difflab::experiments {

using ag::Var;
using tensor::Tensor;

LeNet::LeNet(int64_t in_channels, int64_t num_classes, tensor::Generator* gen)
    : in_(in_channels), classes_(num_classes) {
  c1_ = register_module("c1", std::make_shared<nn::Conv2d>(in_channels, 6, 5, 1, 2, 1, 1, true, gen));
  c2_ = register_module("c2", std::make_shared<nn::Conv2d>(6, 16, 5, 1, 0, 1, 1, true, gen));
  f1_ = register_module("f1", std::make_shared<nn::Linear>(16 * 5 * 5, 120, true, gen));
  f2_ = register_module("f2", std::make_shared<nn::Linear>(120, 84, true, gen));
  f3_ = register_module("f3", std::make_shared<nn::Linear>(84, num_classes, true, gen));
}

Var LeNet::forward(const Var& x, Var* features) const {
  DIFFLAB_CHECK(x.dim() == 4 && x.size(1) == in_ && x.size(2) == 28 && x.size(3) == 28,
                "LeNet: expected images [N, ", in_, ", 28, 28], got ", x.shape());
  Var h = ag::avg_pool2d(ag::relu(c1_->forward(x)), 2);  // 28 -> 14
  h = ag::avg_pool2d(ag::relu(c2_->forward(h)), 2);      // 10 -> 5
  h = ag::relu(f1_->forward(ag::flatten(h, 1)));
  h = ag::relu(f2_->forward(h));
  if (features) *features = h;
  return f3_->forward(h);
}

ClassifierOutputs classify(const LeNet& net, const tensor::Tensor& images, int64_t batch) {
  ag::NoGradGuard ng;
  std::vector<Tensor> logits, feats;
  const int64_t n = images.size(0);
  for (int64_t i = 0; i < n; i += batch) {
    Var f;
    Var l = net.forward(Var(images.slice(0, i, std::min(n, i + batch))), &f);
    logits.push_back(l.value());
    feats.push_back(f.value());
  }
  return {tensor::cat(logits, 0), tensor::cat(feats, 0)};
}

namespace {
double test_accuracy(const LeNet& net, const ImageSet& test) {
  return accuracy(predict_classes(classify(net, test.images).logits), test.labels);
}
}  // namespace

Classifier load_or_train_classifier(const std::string& name, const ImageSet& train,
                                    const ImageSet& test, int64_t num_classes, int64_t epochs,
                                    bool verbose) {
  namespace fs = std::filesystem;
  std::string dir = fs::path(default_mnist_path()).parent_path().string();
  if (dir.empty()) dir = ".";
  Classifier c;
  c.cache_path = dir + "/lenet_" + name + ".safetensors";
  const int64_t channels = train.images.size(1);
  tensor::Generator gen(1234);
  c.net = std::make_shared<LeNet>(channels, num_classes, &gen);
  if (file_exists(c.cache_path)) {
    try {
      nn::load_module(c.cache_path, *c.net);
      c.test_accuracy = test_accuracy(*c.net, test);
      if (verbose)
        std::fprintf(stderr, "classifier: loaded %s (held-out accuracy %.4f)\n",
                     c.cache_path.c_str(), c.test_accuracy);
      return c;
    } catch (const difflab::Error& e) {
      if (verbose)
        std::fprintf(stderr, "classifier: ignoring cache %s (%s); retraining\n",
                     c.cache_path.c_str(), e.what());
      c.net = std::make_shared<LeNet>(channels, num_classes, &gen);
    }
  }
  nn::AdamOptions ao;
  ao.lr = 2e-3;
  nn::Adam opt(c.net->parameters(), ao);
  BatchIterator it(train.size(), 64, 99);
  const int64_t steps = epochs * it.batches_per_epoch();
  for (int64_t s = 0; s < steps; ++s) {
    Tensor idx = it.next();
    Var logits = c.net->forward(Var(take_rows(train.images, idx)));
    Tensor onehot = tensor::one_hot(take_rows(train.labels, idx), num_classes);
    Var loss = ag::mean(ag::sum(ag::neg(ag::mul(ag::log_softmax(logits, 1), Var(onehot))), {1}));
    opt.zero_grad();
    loss.backward();
    opt.set_lr(ao.lr * 0.5 * (1 + std::cos(M_PI * double(s) / double(steps))));
    opt.step();
    if (verbose && (s + 1) % it.batches_per_epoch() == 0)
      std::fprintf(stderr, "classifier: epoch %lld/%lld  loss %.4f\n",
                   (long long)((s + 1) / it.batches_per_epoch()), (long long)epochs, loss.item());
  }
  c.test_accuracy = test_accuracy(*c.net, test);
  nn::save_module(c.cache_path, *c.net,
                  {{"test_accuracy", std::to_string(c.test_accuracy)}, {"data", name}});
  if (verbose)
    std::fprintf(stderr, "classifier: trained, held-out accuracy %.4f, cached at %s\n",
                 c.test_accuracy, c.cache_path.c_str());
  return c;
}

}  // namespace difflab::experiments
