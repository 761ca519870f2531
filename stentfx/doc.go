// Package stentfx is the go.uber.org/fx wiring of the Stent service:
// one fx.Module per concern (configuration, logging, store, notifier,
// clock, metrics, engine, workers, HTTP), each providing what a plain
// constructor builds and hooking its start and stop into the fx
// lifecycle. The constructors live with what they build and work without
// fx: app (the engine), adapters/storeurl (the store and its readiness
// step), adapters/notifierurl, adapters/prommetrics and adapters/httpapi.
//
// It also holds what only the service reads: Config, loaded from STENT_*
// environment variables and flags (LoadConfig), and Workers, which starts
// and drains the process's workers.
package stentfx
