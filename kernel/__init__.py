"""The kernel: the mechanisms every register gets by declaration, and the tables they keep.

Layers, each importing only the ones below it:

    kernel/        db, i18n, clock, identity (properties, accounts, roles), register (field, mixins), permissions,
                   scoping, audit, workflow, numbering, deadlines, validators, display (value to text), checks
    models/        the domains: master data, desk, permits, duty; each register declares itself here
    app/admin/     RegisterView: the guard every screen goes through, and its listing/export/steps collaborators
    admin_views/   one short view class per register
    app/           the web shell: factory, auth, verification, dashboard, templating, cli

Nothing in kernel/ imports models/, app/ or admin_views/.
"""
