/*
 * recsys 0.1.0 -> 0.2.0: hardening as a trusted extension (owned registry rows with
 * row-level security, stored queries run as their owner, pinned search_path).
 * CREATE EXTENSION recsys installs 0.1.0 and then runs this script.
 */
\echo Use "ALTER EXTENSION recsys UPDATE" to load this file. \quit
