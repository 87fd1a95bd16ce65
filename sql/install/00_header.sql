/*
 * recsys install script, assembled from sql/install/NN_*.sql (one file per component).
 */
\echo Use "CREATE EXTENSION recsys" to load this file. \quit
