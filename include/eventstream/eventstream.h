// The EventStreamCore C++ client library: include this one header. docs/client.md shows how to
// use it.
#pragma once

#include "eventstream/admin.h"
#include "eventstream/consumer.h"
#include "eventstream/event.h"
#include "eventstream/options.h"
#include "eventstream/producer.h"
#include "eventstream/status.h"
