// ChainView: what the mempool needs to know about the chain. chainstub implements it; tests
// fake it. Called from the mempool's (single) thread only.
#pragma once

#include <cstdint>

#include "crypto/ed25519.h"

namespace hearsay {

class ChainView {
 public:
  virtual ~ChainView() = default;
  // The nonce the sender's next confirmed transaction must carry (0 for a new sender).
  virtual uint64_t next_nonce(const PublicKey& sender) const = 0;
  // Height of the best block (the next block has height() + 1).
  virtual uint64_t height() const = 0;
};

}  // namespace hearsay
