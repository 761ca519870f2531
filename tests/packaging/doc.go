// Package packaging checks the deployment files against the code they
// ship: deploy/Dockerfile builds with the same command as `make
// build-bin`, runs as a non-root user with an exec-form HEALTHCHECK that
// works against a real stentd, .dockerignore keeps every file the build
// reads, and deploy/stentd.service and deploy/stentd.env.example name
// only settings stentd accepts (verified by systemd-analyze where it is
// installed). It has tests only.
package packaging
