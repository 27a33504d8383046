#pragma once

// What a controller manager's handler returns (Kafka's ControllerResult): the records to append
// as one batch and the response to send once they are committed. Managers only read the working
// image and generate; QuorumController appends, replays, waits for the commit and answers, and
// is the one place that answers NOT_CONTROLLER when this node is not (or stops being) active.

#include <functional>
#include <string>

#include "common/kafka_error.h"
#include "proto/common/v1/error.pb.h"
#include "proto/controller/v1/metadata.pb.h"

namespace strand::controller {

// An error for a response field: Kafka code and name, plus a message.
struct ControllerError {
  KafkaError code = KafkaError::kNone;
  std::string message;
  bool ok() const { return code == KafkaError::kNone; }
};
void SetError(const ControllerError& error, strand::common::v1::Error* out);

template <typename Response>
using Done = std::function<void(Response)>;

template <typename Response>
struct ControllerResult {
  // Appended as one batch. Empty: nothing to write, but the answer still waits until every
  // earlier append has committed (it may describe their effects).
  v1::MetadataBatch records;
  Response response;
  // Answer at once, appending nothing: refusals found before any record was generated, and
  // validate-only requests.
  bool answer_now = false;
  // Runs once the records (not empty) are appended at `index` and replayed into the working
  // image: bookkeeping that needs what replay assigned, such as a broker's epoch.
  std::function<void(uint64_t index)> after_append;
  // Runs instead when the append fails: undoes what generating the records changed.
  std::function<void()> not_appended;
  // Runs once the records are committed, to fill what is only known then.
  std::function<void(Response*)> complete;
};

// A response sent at once.
template <typename Response>
ControllerResult<Response> AnswerNow(Response response) {
  ControllerResult<Response> out;
  out.response = std::move(response);
  out.answer_now = true;
  return out;
}

// A refusal of the whole request (responses with a top-level error).
template <typename Response>
ControllerResult<Response> Refuse(const ControllerError& error) {
  Response response;
  SetError(error, response.mutable_error());
  return AnswerNow(std::move(response));
}

// Sets `error` where a response has not been answered otherwise: on each per-item result that
// has no error of its own (responses with `results` or `topics`), else on the whole response,
// cleared of anything filled for the success case.
template <typename Response>
void SetErrorOnUnanswered(const ControllerError& error, Response* response) {
  auto on_items = [&](auto* items) {
    for (auto& item : *items) {
      if (item.error().code() == 0) SetError(error, item.mutable_error());
    }
  };
  if constexpr (requires { response->mutable_results(); }) {
    on_items(response->mutable_results());
  } else if constexpr (requires { response->mutable_topics(); }) {
    on_items(response->mutable_topics());
  } else {
    response->Clear();
    SetError(error, response->mutable_error());
  }
}

}  // namespace strand::controller
