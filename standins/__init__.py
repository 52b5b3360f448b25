"""Real local stand-ins for the services whose-key talks to: a throwaway Redis server, a moto
server holding an AWS Organization, and a loopback Slack. The demo, the tests and the
benchmarks all run on these, so they exercise the same code paths production does."""
