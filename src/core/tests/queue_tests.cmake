# Tests of the lock-free SPSC and MPSC queues and the MPSC byte ring (label: core). Kept apart from the engine tests so
# that scripts/test-tsan can build and run just these under ThreadSanitizer. The queues are
# header-only and need only es_common (ES_ASSERT).
es_add_test(NAME core_queue_test LABEL core
    SOURCES
        queue_contract_test.cc
        spsc_queue_test.cc
        mpsc_queue_test.cc
        mpsc_byte_ring_test.cc
    LIBS es_common)
