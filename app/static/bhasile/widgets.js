/* BHasile — behaviour of the FAB widgets (lists, search, actions, forms) under the DSFR. */
