/* version.h — the version of reflexo-sync and ghl-sim. */
#ifndef REFLEXO_VERSION_H
#define REFLEXO_VERSION_H

#define REFLEXO_VERSION "0.1.0"

#endif							/* REFLEXO_VERSION_H */
