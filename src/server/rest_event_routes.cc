// Events over REST: POST /v1/events (publish, answered when the acks asked for are in) and
// GET /v1/events/{id}.
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <utility>

#include "core/event_id.h"
#include "server/event_json.h"
#include "server/publish_call.h"
#include "server/rest_service.h"

namespace es::server {
namespace {

using json = nlohmann::json;

result<payload_form> form_of(const http_request& request) {
    const auto e = request.query_param("encoding");
    if (!e || *e == "auto") return payload_form::automatic;
    if (*e == "base64") return payload_form::base64;
    return make_error(errc::invalid_argument, "encoding: must be auto or base64, got '" + *e + "'");
}

// What POST /v1/events keeps until the engine has answered.
struct publish_request {
    decoded_publish decoded;
    std::vector<core::header_in> headers;
    std::vector<core::event_in> events;
    acks_mode acks = acks_mode::leader;
    uint32_t partitions = 0;
    std::chrono::steady_clock::time_point started;
    std::shared_ptr<const topic_edge_metrics> metrics;
};

http_response publish_answer(const publish_request& req, result<publish_report> r) {
    if (!r) return json_error(r.err());
    const auto& summary = r->summary;
    if (summary.events_refused > 0) {
        // Some partitions' queues were full: those events were not taken, the others were.
        return json_error(make_error(
            errc::queue_full, std::to_string(summary.events_refused) + " of " +
                                  std::to_string(req.events.size()) +
                                  " events were refused because a partition's queue is full; "
                                  "the other " +
                                  std::to_string(summary.events_queued) +
                                  " were accepted. Retry the refused ones after a short back-off"));
    }
    if (req.acks == acks_mode::none) {
        http_response a = json_ok(dump_json({{"accepted", summary.events_queued}, {"acks", "0"}}));
        a.status = 202;
        return a;
    }
    for (const auto& o : r->outcomes) {
        if (o.code != errc::ok) {
            return json_error(make_error(
                o.code, "a batch of " + std::to_string(o.count) + " events for partition " +
                            std::to_string(o.partition) + " was refused: " + errc_name(o.code)));
        }
    }
    const auto places = place_events(req.events, req.partitions, r->outcomes);
    auto one = [&](const event_place& p) {
        if (!p.appended) return json(nullptr);
        return json{{"id", core::format_event_id(req.decoded.topic, p.partition, p.offset)},
                    {"partition", p.partition},
                    {"offset", p.offset}};
    };
    http_response a;
    if (req.decoded.batch) {
        json list = json::array();
        for (const auto& p : places) list.push_back(one(p));
        a = json_ok(dump_json(
            {{"count", summary.events_queued}, {"acks", acks_name(req.acks)}, {"events", list}}));
    } else if (places.front().appended) {
        // The hot path: one event. Written out by hand (topic names need no JSON escaping:
        // [A-Za-z0-9._-]), in the key order nlohmann would give.
        const auto& p = places.front();
        const std::string offset = std::to_string(p.offset);
        const std::string partition = std::to_string(p.partition);
        std::string body;
        body.reserve(64 + 2 * req.decoded.topic.size());
        body += R"({"acks":")";
        body += acks_name(req.acks);
        body += R"(","id":")";
        body += req.decoded.topic;
        body += '.';
        body += partition;
        body += '.';
        body += offset;
        body += R"(","offset":)";
        body += offset;
        body += R"(,"partition":)";
        body += partition;
        body += '}';
        a = json_ok(std::move(body));
    } else {
        a = json_ok(dump_json({{"acks", acks_name(req.acks)}}));
    }
    a.status = 201;
    return a;
}

}  // namespace

void rest_service::publish(const http_request& request, http_responder respond) {
    auto req = std::make_shared<publish_request>();
    req->started = std::chrono::steady_clock::now();
    auto decoded = decode_publish_body(request.body);
    if (!decoded) {
        respond(json_error(decoded.err()));
        return;
    }
    req->decoded = std::move(*decoded);
    auto topic = engine_.find_topic(req->decoded.topic);
    if (!topic) {
        respond(json_error(topic.err()));
        return;
    }
    req->partitions = (*topic)->config.partitions;
    // acks: query parameter, else header, else the topic's default.
    req->acks = (*topic)->config.storage == core::storage_mode::durable ? acks_mode::all
                                                                        : acks_mode::leader;
    std::optional<std::string> acks_text = request.query_param("acks");
    if (!acks_text) {
        if (auto h = request.header("eventstream-acks")) acks_text = std::string(*h);
    }
    if (acks_text) {
        auto a = parse_acks(*acks_text);
        if (!a) {
            respond(json_error(a.err()));
            return;
        }
        req->acks = *a;
    }
    req->metrics = metrics_.for_topic(req->decoded.topic, transport::http);
    make_event_views(req->decoded, req->headers, req->events);
    const auto events = std::span<const core::event_in>(req->events);
    publish_async(engine_, *topic, events, req->acks,
                  [req, respond = std::move(respond)](result<publish_report> r) {
                      // On a worker thread: build the answer here, the responder hands it to
                      // the connection's io thread.
                      const bool ok = r.has_value() && r->summary.events_refused == 0;
                      if (r) req->metrics->events_published->inc(r->summary.events_queued);
                      auto answer = publish_answer(*req, std::move(r));
                      req->metrics->publish_requests->inc();
                      if (!ok || answer.status >= 400) req->metrics->publish_errors->inc();
                      req->metrics->publish_latency_ns->record(static_cast<uint64_t>(
                          std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now() - req->started)
                              .count()));
                      respond(std::move(answer));
                  });
}

http_response rest_service::get_event(const http_request& request) {
    auto form = form_of(request);
    if (!form) return json_error(form.err());
    auto id = core::parse_event_id(request.param("id"));
    if (!id) return json_error(id.err());
    auto topic = engine_.find_topic(id->topic);
    if (!topic) return json_error(topic.err());
    auto record = engine_.read_event(*topic, id->partition, id->offset);
    if (!record) return json_error(record.err());
    json doc = event_json(id->topic, record->partition, record->offset, record->timestamp_ns,
                          record->key, record->payload, record->headers, *form);
    doc["status"] =
        (*topic)->config.storage == core::storage_mode::durable ? "committed" : "appended";
    return json_ok(dump_json(doc));
}

void rest_service::add_event_routes(http_router& router) {
    router.add_async("POST", "/v1/events",
                     [this](const http_request& request, http_responder respond) {
                         publish(request, std::move(respond));
                     });
    router.add("GET", "/v1/events/{id}",
               [this](const http_request& request) { return get_event(request); });
}

}  // namespace es::server
