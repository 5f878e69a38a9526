#include "diffusion/guidance.h"

#include "autograd/functions.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::diffusion {

namespace {
void check_labels(const Tensor& labels, int64_t batch, int64_t num_classes, const char* who) {
  DIFFLAB_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.dim() == 1 &&
                    labels.size(0) == batch,
                who, ": labels must be i64 [", batch, "], got ",
                labels.defined() ? labels.desc() : std::string("undefined"));
  // Labels above the null label are classes added to a frozen network (nn::UNet::add_class);
  // the network checks their range itself.
  for (int64_t c : labels.contiguous().to_vector<int64_t>())
    DIFFLAB_CHECK(c >= 0 && c != num_classes, who, ": label ", c, " is ",
                  c < 0 ? "negative" : "the null label", " (", num_classes,
                  " is the null label the wrapper adds itself)");
}
}  // namespace

Tensor null_labels(int64_t batch, int64_t num_classes, tensor::Device device) {
  return tensor::full({batch}, double(num_classes), DType::i64, device);
}

Denoiser classifier_free_guidance(Denoiser net, double w, int64_t num_classes) {
  DIFFLAB_CHECK(bool(net), "classifier_free_guidance: empty network callable");
  DIFFLAB_CHECK(num_classes >= 1, "classifier_free_guidance: num_classes = ", num_classes,
                " must be >= 1");
  return [net = std::move(net), w, num_classes](const Var& z, const Tensor& t_net,
                                                const Tensor& labels) {
    const int64_t B = z.size(0);
    check_labels(labels, B, num_classes, "classifier_free_guidance");
    // One batched call: rows [0, B) conditional, [B, 2B) unconditional.
    Var out = net(ag::cat({z, z}, 0), tensor::cat({t_net, t_net}, 0),
                  tensor::cat({labels.contiguous(), null_labels(B, num_classes, labels.device())}, 0));
    DIFFLAB_CHECK(out.dim() >= 1 && out.size(0) == 2 * B, "classifier_free_guidance: network ",
                  "output ", out.value().desc(), " lacks the doubled batch ", 2 * B);
    Var cond = ag::slice(out, 0, 0, B), uncond = ag::slice(out, 0, B, 2 * B);
    return cond * (1.0 + w) - uncond * w;
  };
}

Tensor drop_labels(const Tensor& labels, double p, int64_t num_classes, tensor::Generator& gen) {
  DIFFLAB_CHECK(p >= 0 && p <= 1, "drop_labels: p = ", p, " is outside [0, 1]");
  DIFFLAB_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.dim() == 1,
                "drop_labels: labels must be i64 [B], got ",
                labels.defined() ? labels.desc() : std::string("undefined"));
  std::vector<double> u = tensor::rand({labels.size(0)}, DType::f64, &gen).to_vector<double>();
  std::vector<int64_t> l = labels.contiguous().to_vector<int64_t>();
  for (size_t i = 0; i < l.size(); ++i)
    if (u[i] < p) l[i] = num_classes;
  return tensor::from_vector(l, {int64_t(l.size())}).to(labels.device());
}

}  // namespace difflab::diffusion
