//! Built-in host, PostgreSQL and Redis collectors (work in progress).
