// Fuzz target for the safetensors reader and what is built on it (checkpoints, train states).
#include "nn/safetensors.h"

#include <cstring>

#include "fuzz/support.h"
#include "fuzz/targets.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/train_state.h"

namespace difflab::fuzz {

namespace {

bool same_tensor(const tensor::Tensor& a, const tensor::Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  return a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0);
}

// What the reader accepted, the writer must write, and it must read back the same.
void check_round_trip(const nn::SafeTensors& st) {
  std::string again;
  try {
    again = nn::encode_safetensors(st.tensors, st.metadata);
  } catch (const Error& e) {
    finding(std::string("decode_safetensors accepted a file that encode_safetensors refuses: ") +
            e.what());
  }
  nn::SafeTensors back = nn::decode_safetensors(again, "round trip");
  if (back.metadata != st.metadata) finding("safetensors round trip changed the metadata");
  if (back.tensors.size() != st.tensors.size())
    finding("safetensors round trip changed the tensor count");
  for (auto& [name, t] : st.tensors) {
    auto it = back.tensors.find(name);
    if (it == back.tensors.end() || !same_tensor(t, it->second))
      finding("safetensors round trip changed tensor '" + name + "'");
  }
}

void restore_into_tiny(const nn::TrainState& st) {
  for (int kind = 0; kind < 3; ++kind) {
    auto model = make_tiny_module();
    std::vector<ag::Var> params = model->parameters();
    std::unique_ptr<nn::Optimizer> opt;
    if (kind == 0) opt = std::make_unique<nn::SGD>(params, nn::SGDOptions{.momentum = 0.9});
    if (kind == 1) opt = std::make_unique<nn::Adam>(params, nn::AdamOptions{});
    if (kind == 2) opt = std::make_unique<nn::AdamW>(params, nn::AdamOptions{});
    nn::Ema ema(*model);
    tensor::Generator gen;
    try {
      nn::restore_train_state(st, *model, *opt, st.has_ema ? &ema : nullptr, gen);
    } catch (const Error& e) {
      expect_message(e, "restore_train_state");
    }
  }
}

}  // namespace

int fuzz_safetensors(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  nn::SafeTensors st;
  try {
    st = nn::decode_safetensors(bytes, "fuzz.safetensors");
  } catch (const Error& e) {
    expect_message(e, "decode_safetensors");
    return 0;
  }
  check_round_trip(st);
  const std::string path = scratch_file("safetensors", bytes);
  for (bool strict : {true, false}) {
    auto model = make_tiny_module();
    try {
      nn::load_module(path, *model, strict);
    } catch (const Error& e) {
      expect_message(e, "load_module");
    }
  }
  nn::TrainState ts;
  try {
    ts = nn::load_train_state(path);
  } catch (const Error& e) {
    expect_message(e, "load_train_state");
    return 0;
  }
  restore_into_tiny(ts);
  return 0;
}

}  // namespace difflab::fuzz
