/* version.h — the version of reflexo-sync and ghl-sim. */
#ifndef REFLEXO_VERSION_H
#define REFLEXO_VERSION_H

#define REFLEXO_VERSION "0.2.0"   /* = default_version in reflexo.control; a test keeps them equal */

#endif							/* REFLEXO_VERSION_H */
