#include "experiments/concept_eval.h"

#include <algorithm>

#include "experiments/metrics/frechet.h"
#include "experiments/metrics/kid.h"
#include "experiments/metrics/precision_recall.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using tensor::Tensor;

namespace {

// Share of the values in `got` equal to `want`.
double share_equal(const std::vector<int64_t>& got, int64_t want) {
  return double(std::count(got.begin(), got.end(), want)) / double(std::max<size_t>(1, got.size()));
}

}  // namespace

CompositionJudge::CompositionJudge(const MnistData& mnist)
    : lenet_(load_or_train_classifier("mnist", mnist.train, mnist.test, 10)) {}

Tensor CompositionJudge::digits(const Tensor& images) const {
  return tensor::argmax(classify(*lenet_.net, luminance(tensor::clamp(images, -1.0, 1.0))).logits, 1);
}

Tensor CompositionJudge::features(const Tensor& images) const {
  return classify(*lenet_.net, luminance(tensor::clamp(images, -1.0, 1.0))).features;
}

CompositionScores CompositionJudge::score(const Tensor& images, const Composition& target,
                                          const Tensor& real) const {
  DIFFLAB_CHECK(images.defined() && images.dim() == 4 && images.size(0) >= 2 && real.defined() &&
                    real.dim() == 4 && real.size(0) >= 2,
                "CompositionJudge::score: need at least 2 generated and 2 real images [N, 3, H, W], "
                "got ", images.defined() ? images.desc() : "undefined", " and ",
                real.defined() ? real.desc() : "undefined");
  CompositionScores s;
  s.n = images.size(0);
  const ClassifierOutputs out = classify(*lenet_.net, luminance(tensor::clamp(images, -1.0, 1.0)));
  const std::vector<int64_t> d = tensor::argmax(out.logits, 1).to_vector<int64_t>();
  const std::vector<int64_t> c =
      judge_colors(images, composition_palette()).to_vector<int64_t>();
  int64_t both = 0;
  for (size_t i = 0; i < d.size(); ++i) both += d[i] == target.digit && c[i] == target.color;
  s.digit = share_equal(d, target.digit);
  s.color = share_equal(c, target.color);
  s.joint = double(both) / double(d.size());
  const Tensor rf = features(real);
  const int64_t m = std::min(out.features.size(0), rf.size(0));
  const Tensor gen_m = out.features.slice(0, 0, m), real_m = rf.slice(0, 0, m);
  s.kid = kernel_inception_distance(gen_m, real_m).mean;
  const PrecisionRecall pr = precision_recall(gen_m, real_m);
  s.precision = pr.precision, s.recall = pr.recall;
  s.frechet = frechet_distance(out.features, rf);
  return s;
}

}  // namespace difflab::experiments
