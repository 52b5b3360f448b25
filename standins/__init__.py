"""Real local stand-ins for the services whose-key talks to: a throwaway Redis server, a moto
server holding an AWS Organization behind a fault-injecting proxy with an offline CloudTrail, and
a loopback Slack. The demo, the tests and the benchmarks all run on these, so they exercise the
same code paths production does.

Every loopback HTTP server is started and stopped by `loopback.LoopbackServer`, and every child
process (Redis, moto, the web and worker processes) by `processes.ChildProcess`."""
