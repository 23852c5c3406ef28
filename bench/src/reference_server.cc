// bench-reference-server: the same-run ceiling of the RPC layer. A gRPC
// callback server from the same libraries as voipd: a do-nothing unary RPC
// with StartCall's message types, and a plain fan-out stream of CallEvent
// messages (one queue per subscriber, one write in flight) fed by Publish.
//
// Writes {"listen": ["127.0.0.1:PORT"], "pid": N} to --ready-file, like voipd,
// and stops on SIGTERM/SIGINT.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include "abseil_setting.h"
#include "bench/v1/reference.grpc.pb.h"

namespace {

using voip::v1::CallEvent;
using EventPtr = std::shared_ptr<const CallEvent>;

constexpr size_t kMaxQueue = 4096;  // like voipd's subscriber_max_lag

void Stamp(google::protobuf::Timestamp* ts) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  ts->set_seconds(ns / 1000000000);
  ts->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

class Subscriber;

// Every open Subscribe stream.
class Hub {
 public:
  void Add(const std::shared_ptr<Subscriber>& s) {
    std::lock_guard<std::mutex> lock(mu_);
    subs_.insert(s);
  }
  void Remove(const std::shared_ptr<Subscriber>& s) {
    std::lock_guard<std::mutex> lock(mu_);
    subs_.erase(s);
  }
  std::vector<std::shared_ptr<Subscriber>> Snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    return {subs_.begin(), subs_.end()};
  }

 private:
  std::mutex mu_;
  std::set<std::shared_ptr<Subscriber>> subs_;
};

class SubscribeReactor;

// A stream's queue. The reactor pointer is cleared in OnDone; writes and
// Finish are issued outside the lock.
class Subscriber {
 public:
  explicit Subscriber(SubscribeReactor* r) : reactor_(r) {}
  void Push(EventPtr event);
  void OnWriteDone(bool ok);
  void OnCancel();
  void Detach() {
    std::lock_guard<std::mutex> lock(mu_);
    reactor_ = nullptr;
  }

 private:
  std::mutex mu_;
  SubscribeReactor* reactor_;
  std::deque<EventPtr> queue_;
  bool in_flight_ = false;
  bool finish_pending_ = false;  // finish once the write in flight is done
  bool finished_ = false;
  grpc::Status finish_status_;
};

class SubscribeReactor final : public grpc::ServerWriteReactor<CallEvent> {
 public:
  explicit SubscribeReactor(Hub* hub) : hub_(hub), sub_(std::make_shared<Subscriber>(this)) {
    hub_->Add(sub_);
  }
  void OnWriteDone(bool ok) override { sub_->OnWriteDone(ok); }
  void OnCancel() override { sub_->OnCancel(); }
  void OnDone() override {
    sub_->Detach();
    hub_->Remove(sub_);
    delete this;
  }

 private:
  Hub* const hub_;
  std::shared_ptr<Subscriber> sub_;
};

void Subscriber::Push(EventPtr event) {
  const CallEvent* write = nullptr;
  bool finish = false;
  SubscribeReactor* r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    r = reactor_;
    if (reactor_ == nullptr || finished_ || finish_pending_) return;
    if (queue_.size() >= kMaxQueue) {
      finish_status_ = grpc::Status(grpc::RESOURCE_EXHAUSTED, "subscriber fell behind");
      if (in_flight_) {
        finish_pending_ = true;
      } else {
        finished_ = finish = true;
      }
    } else {
      queue_.push_back(std::move(event));
      if (!in_flight_) {
        in_flight_ = true;
        write = queue_.front().get();
      }
    }
  }
  if (finish) r->Finish(grpc::Status(grpc::RESOURCE_EXHAUSTED, "subscriber fell behind"));
  if (write != nullptr) r->StartWrite(write);
}

void Subscriber::OnWriteDone(bool ok) {
  const CallEvent* write = nullptr;
  bool finish = false;
  SubscribeReactor* r;
  grpc::Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    r = reactor_;
    if (!queue_.empty()) queue_.pop_front();
    in_flight_ = false;
    if (!ok && !finished_) {
      finish_pending_ = true;
      finish_status_ = grpc::Status::CANCELLED;
    }
    if (finish_pending_ && !finished_) {
      finished_ = finish = true;
      status = finish_status_;
    } else if (!finished_ && !queue_.empty()) {
      in_flight_ = true;
      write = queue_.front().get();
    }
  }
  if (finish) r->Finish(status);
  if (write != nullptr) r->StartWrite(write);
}

void Subscriber::OnCancel() {
  bool finish = false;
  SubscribeReactor* r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    r = reactor_;
    if (finished_) return;
    finish_status_ = grpc::Status::CANCELLED;
    if (in_flight_) {
      finish_pending_ = true;
    } else {
      finished_ = finish = true;
    }
  }
  if (finish) r->Finish(grpc::Status::CANCELLED);
}

class ReferenceServiceImpl final : public bench::v1::ReferenceService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx,
                                  const voip::v1::StartCallRequest* request,
                                  voip::v1::CallSession* response) override {
    response->set_session_id("00000000-0000-4000-8000-000000000000");
    response->set_status(voip::v1::CALL_STATUS_INITIATING);
    *response->mutable_to() = request->to();
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<CallEvent>* Subscribe(
      grpc::CallbackServerContext*, const voip::v1::SubscribeCallEventsRequest*) override {
    return new SubscribeReactor(&hub_);
  }

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* ctx,
                                    const bench::v1::PublishRequest* request,
                                    bench::v1::PublishReply* reply) override {
    auto* reactor = ctx->DefaultReactor();
    // Paced publishing blocks, so it gets a thread of its own (bench only).
    std::thread([this, reactor, reply, count = request->count(), rate = request->rate_per_s()] {
      std::lock_guard<std::mutex> serial(publish_mu_);
      const auto start = std::chrono::steady_clock::now();
      const uint64_t first = next_sequence_;
      uint32_t subs = 0;
      for (uint64_t i = 0; i < count; ++i) {
        if (rate > 0) {
          std::this_thread::sleep_until(
              start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                          std::chrono::duration<double>(static_cast<double>(i) / rate)));
        }
        auto subscribers = hub_.Snapshot();
        subs = static_cast<uint32_t>(subscribers.size());
        EventPtr event = MakeEvent(next_sequence_++);
        for (auto& s : subscribers) s->Push(event);
      }
      reply->set_first_sequence(first);
      reply->set_last_sequence(next_sequence_ - 1);
      reply->set_subscribers(subs);
      reactor->Finish(grpc::Status::OK);
    }).detach();
    return reactor;
  }

 private:
  // An event shaped like voipd's: the whole session with labels and times.
  EventPtr MakeEvent(uint64_t sequence) {
    auto e = std::make_shared<CallEvent>();
    e->set_sequence(sequence);
    e->set_type(voip::v1::CALL_EVENT_TYPE_STATUS_CHANGED);
    e->set_previous_status(voip::v1::CALL_STATUS_RINGING);
    auto* s = e->mutable_session();
    s->set_session_id("3f2b8c1e-9a4d-4e6f-8b2a-" + std::to_string(100000000000 + sequence));
    s->set_status(voip::v1::CALL_STATUS_CONNECTED);
    s->set_system_name("sandbox");
    s->set_provider_call_id("sbx-" + std::to_string(sequence));
    s->set_direction(voip::v1::CALL_DIRECTION_OUTBOUND);
    s->set_from("+12015550199");
    s->mutable_to()->set_number("+12015550100");
    s->mutable_to()->set_type("mobile");
    s->set_to_normalized("+12015550100");
    Stamp(s->mutable_created_at());
    Stamp(s->mutable_answered_at());
    (*s->mutable_labels())["bench.id"] = std::to_string(sequence);
    (*s->mutable_labels())["crm_contact"] = "contact-000000" + std::to_string(sequence % 100000);
    s->set_last_sequence(sequence);
    Stamp(e->mutable_time());
    return e;
  }

  Hub hub_;
  std::mutex publish_mu_;
  uint64_t next_sequence_ = 1;
};

}  // namespace

int main(int argc, char** argv) {
  bench::UseVoipdAbseilSetting();
  CLI::App app{"bench-reference-server: bare gRPC unary and streaming reference"};
  std::string listen = "127.0.0.1:0";
  std::string ready_file;
  app.add_option("--listen", listen, "host:port (port 0 picks one)");
  app.add_option("--ready-file", ready_file, "JSON with the bound address, written once serving");
  CLI11_PARSE(app, argc, argv);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ReferenceServiceImpl service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "bench-reference-server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  if (!ready_file.empty()) {
    {
      std::ofstream out(ready_file + ".tmp", std::ios::trunc);
      out << "{\"listen\": [\"" << host << ":" << port << "\"], \"pid\": " << getpid() << "}\n";
    }
    std::rename((ready_file + ".tmp").c_str(), ready_file.c_str());
  }
  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  return 0;
}
